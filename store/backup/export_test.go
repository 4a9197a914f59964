package backup

// SealIterations is the PBKDF2 count of files sealed by the tests.
var SealIterations = minIterations

func init() { sealIterations = minIterations }
