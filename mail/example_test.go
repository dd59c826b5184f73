package mail_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	webmail "github.com/webauthnkit/webauthnkit/mail"
)

func ExampleTemplates_Render() {
	msg, err := webmail.DefaultTemplates().Render(webmail.TemplateVerifyEmail, "ann@example.org", webmail.Data{
		AppName:   "Acme",
		Username:  "ann",
		Code:      "482913",
		ExpiresIn: 15 * time.Minute,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Subject:", msg.Subject)
	fmt.Print(msg.Text)
	// Output:
	// Subject: Acme: verify your email address
	// Hello ann,
	//
	// Your code to verify this email address for Acme is:
	//
	//     482913
	//
	// It expires in 15 minutes. If you did not ask for it, ignore this email.
}

func ExampleNewDevelopment() {
	// Drop the time so the output is stable; a real app passes its logger.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	mailer := webmail.NewDevelopment(logger) // development only: codes go to the log
	_ = mailer.Send(context.Background(), webmail.Message{
		To:      "ann@example.org",
		Subject: "Verify",
		Text:    "Your code is 482913.",
	})
	// Output:
	// level=INFO msg="mail: DEVELOPMENT MAILER, message NOT sent; it is logged with its codes and links; never use in production" to=ann@example.org subject=Verify text="Your code is 482913."
}
