"""Budget semantics: numbers and KPI targets (numbers.py); more of the budget knowledge joins here."""
