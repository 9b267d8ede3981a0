"""Query side of the knowledge assistant: retrieve passages, compose cited answers, serve them."""
