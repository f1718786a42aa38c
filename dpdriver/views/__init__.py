"""What a run shows its user: the status table, the HTML report, the model card. Views read a run's files and
never change them."""
