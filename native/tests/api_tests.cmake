# (filled in by the api_tests group)
