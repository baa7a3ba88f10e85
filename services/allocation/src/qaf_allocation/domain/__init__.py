"""Pure rules of the allocation service: the case population, the roster, the draw, reallocation."""
