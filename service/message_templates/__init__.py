"""The words of every patient- and carer-facing text: a built-in set (English, and Welsh for
review) and each ward's own wording per purpose and language, versioned (service.py); the
template engine and its checks (engine.py); SMS segment counts (segments.py)."""
