"""Escalations: the record every safety signal becomes, with an owner level and a deadline."""
