import enquiries
enquiries.confirm('Delete 14 stale branches?')
