"""What a run shows its user: the status table and the HTML report. Views read a run's files and
never change them."""
