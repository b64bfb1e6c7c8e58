# (filled in by the cpp_tests group)
