"""Errors fastnn raises beyond the built-in ValueError and TypeError."""


class TrainingDiverged(FloatingPointError):
    """The cost became NaN or inf during training; the weights are not returned."""
