"""Lightning callbacks: threshold calibration on validation, and the test report."""
