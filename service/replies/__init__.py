"""Replies to read: texts from a patient or their carer that only a person can understand.

Anything that is not clearly a score, OK, STOP/START or a crisis text is held here with a
read-by deadline (the ward's `read_minutes`); unread past it, it raises `unread_reply`.
"""
