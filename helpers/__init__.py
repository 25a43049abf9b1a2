"""Customer activity report: exact answers about users from raw website events.

Start here: :func:`open_events` gives the cleaned events of a source with their users,
sessions, rejected rows and every analysis as a method; :func:`build_report` is the report run
behind report.json, the notebook and the HTML.
"""

from helpers.events import Events, build_report, open_events
from helpers.outputs import write_outputs
from helpers.params import ReportParams
from helpers.report import Report

__all__ = ["Events", "Report", "ReportParams", "build_report", "open_events", "write_outputs"]
