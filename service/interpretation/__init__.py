"""What a patient's text means: pure functions over the text, no storage, no other package."""
