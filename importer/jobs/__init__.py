"""Saved imports: job files, the runs they stand for, and the thresholds they are held to."""

from importer.jobs.file import Job, JobFile, load_job_file
from importer.jobs.sync import PreparedRun, newest_match, prepare
from importer.jobs.threshold import FailureThreshold

__all__ = [
    "FailureThreshold",
    "Job",
    "JobFile",
    "PreparedRun",
    "load_job_file",
    "newest_match",
    "prepare",
]
