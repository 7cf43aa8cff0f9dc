"""The storm bench's own handlers: they count what ran, so lost and doubled can be told apart."""
