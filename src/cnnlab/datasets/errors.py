"""The one error type of the datasets stage."""

from cnnlab.errors import CnnlabError


class DatasetError(CnnlabError):
    """A dataset cannot be found, fetched, verified or decoded; the message says what to do."""
