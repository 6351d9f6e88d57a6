"""What people see of a run: status, the live view, the mayor summary, the review's SARIF."""
