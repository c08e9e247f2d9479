"""newsflow reader site: what a downstream site renders, from the public read API only."""
