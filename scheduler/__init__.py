"""Scheduled jobs of the Python service (APScheduler): compliance alarms and reminders."""
