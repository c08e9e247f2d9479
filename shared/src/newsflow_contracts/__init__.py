"""newsflow event contracts: what crosses a service boundary, and nothing else."""
