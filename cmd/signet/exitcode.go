package main

// exitError carries a command's own exit code through run: the outcomes of
// "signet cmd send" and the torn tail of "signet audit verify" each have
// one, so that scripts can tell them apart.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
