"""The linkage domain (三级联动): business records the procedures write, reports and dashboards."""
