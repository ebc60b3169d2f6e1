"""Paging staff: who is told at each level of the ladder, and the texts they (and a
consenting carer) get. Built on the outbox; knows nothing of how escalations climb."""
