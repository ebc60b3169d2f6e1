"""FHIR R4 views of Homeward's records: one patient's Bundle and a ward's bulk NDJSON export.

Each resource type has a small builder module; `bundle.py` reads one patient (ward scope in
SQL, through the domains' `readable_*` statements), `export.py` streams a ward in batches.
The resources are built with `fhir.resources.R4B` models (FHIR 4.3, the library's closest
to R4 4.0.1; its default models are R5). README's FHIR section records every mapping choice.
"""
