"""Who may reach a patient, decided in SQL: ward staff (their ward's patients), agency
workers (referred and consented, within the consent's scope), and whether the patient may be
texted now. Every domain builds its reads on these; this package imports no domain."""
