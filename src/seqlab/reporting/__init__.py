"""Reporting over run folders: summary tables, plots and a self-contained HTML report."""

from seqlab.reporting.build import build_report, write_summary

__all__ = ["build_report", "write_summary"]
