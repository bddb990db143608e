"""launch: turns experiment configs into Kubernetes Jobs, submits, follows and runs them locally."""
