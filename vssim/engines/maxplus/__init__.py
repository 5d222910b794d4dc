"""The max-plus engine (`engine="fast"`): exact recursions for the serial FIFO lines it qualifies."""
