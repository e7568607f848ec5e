"""The pydantic models that cross a boundary: intake, actions, case status, activity inputs."""
