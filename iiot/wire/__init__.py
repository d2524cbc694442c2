"""The wire spelling read and written without pydantic, for the messages that are plainly
valid: a Sample checked (`plain_sample`), a device window's JSON (`oee_json`). Each gives
exactly what the models give, or None to take the models' way; the tests hold them to it."""
