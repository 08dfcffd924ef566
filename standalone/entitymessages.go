package standalone

// Exact texts of OpenWhisk's controller for packages, sequences and web actions
// (common/scala/src/main/scala/org/apache/openwhisk/http/ErrorResponse.scala, object Messages),
// and this platform's own for what it does not serve.
const (
	msgPackageReserved      = "Package name '%s' is reserved."
	msgBindingNotExist      = "Binding references a package that does not exist."
	msgPackageNotBinding    = "Resource is a package and cannot be converted into a binding."
	msgBindingOfBinding     = "Cannot bind to another package binding."
	msgNotAllowedOnBinding  = "Operation not permitted on package binding."
	msgPackageNotEmpty      = "Package not empty (contains %d %s). Set force param or delete package contents."
	msgMalformedFQN         = "The fully qualified name of the entity must contain at least the namespace and the name of the entity."
	msgSequenceTooLong      = "Too many actions in the sequence."
	msgSequenceNoComponent  = "No component specified for the sequence."
	msgSequenceCyclic       = "Sequence may not refer to itself."
	msgSequenceNotFound     = "Sequence component does not exist."
	msgSequenceFailed       = "Sequence failed."
	msgPropertyNotFound     = "Response does not include requested property."
	msgInvalidMedia         = "Response is not valid '%s'."
	msgUnknownContentType   = "Response did not specify a known content-type."
	msgContentTypeMismatch  = "Response type in header did not match generated content type."
	msgErrorProcessing      = "There was an error processing your request."
	msgResponseNotReady     = "Response not yet ready."
	msgUnauthorized         = "The request has not been applied because it lacks valid authentication credentials for the target resource."
	msgTriggersNotSupported = "Triggers and rules are not supported by wasmwhisk standalone: invoke the action directly, or chain actions with a sequence."
)
