# (filled in by the runtime_tests group)
