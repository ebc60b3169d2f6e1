"""Homeward's HTTP service and the domain services shared with jobs and the CLI.

Access has one vocabulary. Each domain's `access` module offers `readable_<nouns>(caller, ...)
-> Select`: the rows of that noun this caller may read, with the scoping (ward, agency, consent
in force) in the SQL. Every read of the domain starts from it and only narrows it, so a new
endpoint cannot forget the scoping. Callers with no reach get a statement that finds nothing
(the audit log refuses them outright instead). The consent rule for agency workers is
`service.patient_access.agencies.readable_patient_scopes`, which the readable statements of what
hangs off a patient (goals, support actions) build on.
"""
