package actionproxy

// Exact texts that OpenWhisk clients and conformance tests compare (../shared/openwhisk/SPEC.md §1).
const (
	// Sentinel ends an activation's output on stdout and on stderr.
	Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

	msgReinit          = "Cannot initialize the action more than once."
	msgNoCode          = "Missing main/no code to execute."
	msgNotInitialized  = "no action defined yet"
	msgNotDictionary   = "The action did not return a dictionary or array."
	msgBadArgument     = "The action did not receive a dictionary or array as an argument."
	msgUnmarshal       = "Error unmarshaling request: "
	msgDecode          = "cannot decode the request: "
	msgTimeLimitFormat = "The action exceeded its time limits of %d milliseconds."
	msgBodyTooLarge    = "request body exceeds the limit of %d bytes"
)
