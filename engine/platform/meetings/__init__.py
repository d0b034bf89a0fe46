"""Unit meetings and training (例会、学习培训、业务交流) and 分区联创 (zones of units working together)."""
