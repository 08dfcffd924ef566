package actionproxy

// Exact texts that OpenWhisk clients and conformance tests compare, as the reference runtimes send
// them: openwhisk-runtime-go's openwhisk/initHandler.go and runHandler.go, openwhisk-runtime-docker's
// core/actionProxy/actionproxy.py (the bad-argument text) and the invoker's time-limit message
// (apache/openwhisk common/scala/src/main/scala/org/apache/openwhisk/http/ErrorResponse.scala).
const (
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
