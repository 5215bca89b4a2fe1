"""What a customer is told: the services' events turned into notifications, stored, listed
and pushed live over Server-Sent Events; and the watchlist that feeds price alerts."""
