"""A patient's SMS conversation: what their texts mean, opting out and back in, numbers that
cannot receive SMS, what a delivery failure means, and the conversation as staff read it."""
