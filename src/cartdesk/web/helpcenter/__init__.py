"""The public help center: one per brand at /hc/<brand>/<language>/, no login needed."""
