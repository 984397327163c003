"""Registration: who the customers are, how to reach them, and who pays for their services."""
