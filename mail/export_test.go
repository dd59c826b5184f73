package mail

// HumanDuration exposes the templates' duration function to the tests.
var HumanDuration = humanDuration
