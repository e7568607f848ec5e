"""crisisdesk: crisis and after-sales cases as durable Temporal workflows."""
