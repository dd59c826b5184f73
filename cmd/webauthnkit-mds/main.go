// Command webauthnkit-mds downloads and verifies the FIDO Metadata Service
// (MDS3) BLOB, for deployments whose servers do not reach the Internet:
// run it where there is network access, copy the file, and give it to the
// server (mds.Options.File, or the demo's -mds flag).
//
//	webauthnkit-mds -out mds.jwt                 # download from the FIDO Alliance and verify
//	webauthnkit-mds -verify mds.jwt              # verify a file offline, print what it holds
//	webauthnkit-mds -verify mds.jwt -aaguid cb69481e-8ff7-4039-93ec-0a2729a154a8
//
// The BLOB's signature chain is verified against the FIDO Alliance root
// (or -root FILE, PEM or DER) at the current time; a BLOB past its
// nextUpdate by more than -grace is refused, as the mds.Provider would.
// With -out, an existing file with a higher or equal serial number is not
// replaced (-force to replace it). The file is written atomically. Exit
// status 1 on any failure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/webauthnkit/webauthnkit/mds"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "webauthnkit-mds:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("webauthnkit-mds", flag.ContinueOnError)
	url := fs.String("url", mds.DefaultURL, "where to download the BLOB from")
	out := fs.String("out", "", "download the BLOB, verify it and write it to this file")
	verify := fs.String("verify", "", "verify this BLOB file (no network)")
	rootFile := fs.String("root", "", "trust anchor certificate, PEM or DER (default: the FIDO Alliance root)")
	grace := fs.Duration("grace", 7*24*time.Hour, "how long past its nextUpdate a BLOB is still accepted")
	timeout := fs.Duration("timeout", 2*time.Minute, "download timeout")
	maxSize := fs.Int64("max-size", mds.DefaultMaxSize, "largest BLOB accepted, in bytes")
	force := fs.Bool("force", false, "with -out: replace a file holding a BLOB with a higher or equal serial number")
	aaguid := fs.String("aaguid", "", "print the entry of this AAGUID")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*out == "") == (*verify == "") {
		fs.Usage()
		return errors.New("give either -out FILE (download) or -verify FILE")
	}
	root := mds.FIDORoot()
	if *rootFile != "" {
		data, err := os.ReadFile(*rootFile)
		if err != nil {
			return err
		}
		if root, err = mds.ParseRoot(data); err != nil {
			return fmt.Errorf("-root: %w", err)
		}
	}
	now := time.Now()
	var data []byte
	var err error
	if *verify != "" {
		if data, err = readLimited(*verify, *maxSize); err != nil {
			return err
		}
	} else {
		if data, err = mds.Fetch(ctx, &http.Client{Timeout: *timeout}, *url, *maxSize); err != nil {
			return err
		}
	}
	b, err := mds.Verify(data, root, now)
	if err != nil {
		return err
	}
	if now.After(b.NextUpdate.Add(*grace)) {
		return fmt.Errorf("%w: nextUpdate %s", mds.ErrExpired, b.NextUpdate.Format(time.DateOnly))
	}
	fmt.Fprintf(stdout, "verified BLOB no %d, nextUpdate %s, %d entries (%d not parsed), %d bytes\n",
		b.Number, b.NextUpdate.Format(time.DateOnly), len(b.Metadata.Parsed.Entries), len(b.Metadata.Unparsed), len(data))
	if *aaguid != "" {
		id, err := uuid.Parse(*aaguid)
		if err != nil {
			return fmt.Errorf("-aaguid: %w", err)
		}
		e := b.Entry(id, nil)
		if e == nil {
			fmt.Fprintf(stdout, "%s: not in the BLOB\n", id)
		} else {
			fmt.Fprintf(stdout, "%s: %s\n", id, e.MetadataStatement.Description)
			for _, r := range e.StatusReports {
				date := ""
				if r.EffectiveDate != nil {
					date = " since " + r.EffectiveDate.Format(time.DateOnly)
				}
				fmt.Fprintf(stdout, "  %s%s\n", r.Status, date)
			}
		}
	}
	if *out == "" {
		return nil
	}
	if old, err := readLimited(*out, *maxSize); err == nil && !*force {
		if prev, err := mds.Verify(old, root, now); err == nil && prev.Number >= b.Number {
			return fmt.Errorf("%w: %s holds no %d, downloaded no %d (-force to replace)", mds.ErrNotNewer, *out, prev.Number, b.Number)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".webauthnkit-mds-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: %s is above %d bytes", mds.ErrTooLarge, path, max)
	}
	return data, nil
}
