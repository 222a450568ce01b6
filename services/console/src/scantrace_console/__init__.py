"""The staff console (SPEC 8): server-rendered pages over the tracer's and the reporter's APIs,
called with the signed-in person's own token."""
