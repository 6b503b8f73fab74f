import enquiries
enquiries.choose('Choose one of these test suites: ', ['unit', 'integration', 'end-to-end'])
