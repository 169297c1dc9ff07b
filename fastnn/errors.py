"""Errors fastnn raises beyond the built-in ValueError and TypeError."""


class TrainingDiverged(FloatingPointError):
    """The cost became NaN or inf during training; the weights are not returned."""


class UnknownEngineError(ValueError):
    """An engine name that fastnn does not know."""


class EngineUnavailableError(RuntimeError):
    """A known engine that cannot run on this machine (a package or a GPU is missing)."""


class InvalidModelFile(ValueError):
    """A file given to fastnn.load is not a valid fastnn network: the message names the path and the fault."""
