"""mailflow-doctor: why mail from Exchange Online does not reach on-premises Exchange."""

__version__ = "0.1.0"
