package hresult

import "net/http"

// The codes keep their Windows names so they can be looked up in the BITS
// documentation as written.
const (
	S_OK                        Code = 0x00000000
	BG_S_PARTIAL_COMPLETE       Code = 0x00200017
	BG_S_UNABLE_TO_DELETE_FILES Code = 0x0020001A

	BG_E_NOT_FOUND                                 Code = 0x80200001
	BG_E_INVALID_STATE                             Code = 0x80200002
	BG_E_EMPTY                                     Code = 0x80200003
	BG_E_FILE_NOT_AVAILABLE                        Code = 0x80200004
	BG_E_PROTOCOL_NOT_AVAILABLE                    Code = 0x80200005
	BG_E_DESTINATION_LOCKED                        Code = 0x8020000D
	BG_E_VOLUME_CHANGED                            Code = 0x8020000E
	BG_E_ERROR_INFORMATION_UNAVAILABLE             Code = 0x8020000F
	BG_E_NETWORK_DISCONNECTED                      Code = 0x80200010
	BG_E_MISSING_FILE_SIZE                         Code = 0x80200011
	BG_E_INSUFFICIENT_HTTP_SUPPORT                 Code = 0x80200012
	BG_E_INSUFFICIENT_RANGE_SUPPORT                Code = 0x80200013
	BG_E_REMOTE_NOT_SUPPORTED                      Code = 0x80200014
	BG_E_PROXY_LIST_TOO_LARGE                      Code = 0x80200018
	BG_E_PROXY_BYPASS_LIST_TOO_LARGE               Code = 0x80200019
	BG_E_INVALID_SERVER_RESPONSE                   Code = 0x8020001B
	BG_E_TOO_MANY_FILES                            Code = 0x8020001C
	BG_E_LOCAL_FILE_CHANGED                        Code = 0x8020001D
	BG_E_SESSION_NOT_FOUND                         Code = 0x8020001F
	BG_E_TOO_LARGE                                 Code = 0x80200020
	BG_E_STRING_TOO_LONG                           Code = 0x80200021
	BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH           Code = 0x80200022
	BG_E_SERVER_EXECUTE_ENABLE                     Code = 0x80200023
	BG_E_NO_PROGRESS                               Code = 0x80200024
	BG_E_USERNAME_TOO_LARGE                        Code = 0x80200025
	BG_E_PASSWORD_TOO_LARGE                        Code = 0x80200026
	BG_E_INVALID_AUTH_TARGET                       Code = 0x80200027
	BG_E_INVALID_AUTH_SCHEME                       Code = 0x80200028
	BG_E_FILE_NOT_FOUND                            Code = 0x80200029
	BG_E_INVALID_RANGE                             Code = 0x8020002B
	BG_E_OVERLAPPING_RANGES                        Code = 0x8020002C
	BG_E_CONNECT_FAILURE                           Code = 0x8020002D
	BG_E_CONNECTION_CLOSED                         Code = 0x8020002E
	BG_E_KEEP_ALIVE_FAILURE                        Code = 0x8020002F
	BG_E_MESSAGE_LENGTH_LIMIT_EXCEEDED             Code = 0x80200030
	BG_E_NAME_RESOLUTION_FAILURE                   Code = 0x80200031
	BG_E_PENDING                                   Code = 0x80200032
	BG_E_PIPELINE_FAILURE                          Code = 0x80200033
	BG_E_PROTOCOL_ERROR                            Code = 0x80200034
	BG_E_PROXY_NAME_RESOLUTION_FAILURE             Code = 0x80200035
	BG_E_RECEIVE_FAILURE                           Code = 0x80200036
	BG_E_REQUEST_CANCELED                          Code = 0x80200037
	BG_E_SECURE_CHANNEL_FAILURE                    Code = 0x80200038
	BG_E_SEND_FAILURE                              Code = 0x80200039
	BG_E_SERVER_PROTOCOL_VIOLATION                 Code = 0x8020003A
	BG_E_TIMEOUT                                   Code = 0x8020003B
	BG_E_TRUST_FAILURE                             Code = 0x8020003C
	BG_E_UNKNOWN_ERROR                             Code = 0x8020003D
	BG_E_BLOCKED_BY_POLICY                         Code = 0x8020003E
	BG_E_INVALID_PROXY_INFO                        Code = 0x8020003F
	BG_E_INVALID_CREDENTIALS                       Code = 0x80200040
	BG_E_PEERCACHING_DISABLED                      Code = 0x80200047
	BG_E_TOO_MANY_JOBS_PER_USER                    Code = 0x80200049
	BG_E_TOO_MANY_JOBS_PER_MACHINE                 Code = 0x80200050
	BG_E_TOO_MANY_FILES_IN_JOB                     Code = 0x80200051
	BG_E_TOO_MANY_RANGES_IN_FILE                   Code = 0x80200052
	BG_E_VALIDATION_FAILED                         Code = 0x80200053
	BG_E_MAXDOWNLOAD_TIMEOUT                       Code = 0x80200054
	BG_E_TOKEN_REQUIRED                            Code = 0x80200056
	BG_E_UNKNOWN_PROPERTY_ID                       Code = 0x80200057
	BG_E_READ_ONLY_PROPERTY                        Code = 0x80200058
	BG_E_BLOCKED_BY_COST_TRANSFER_POLICY           Code = 0x80200059
	BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY Code = 0x80200060
	BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE          Code = 0x80200061
	BG_E_READ_ONLY_PROPERTY_AFTER_RESUME           Code = 0x80200062
	BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE           Code = 0x80200063
	BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED           Code = 0x80200064
	BG_E_DATABASE_CORRUPT                          Code = 0x8020006C
	BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD     Code = 0x80200071
	BG_E_UNSUPPORTED_JOB_CONFIGURATION             Code = 0x80200072
	BG_E_REMOTE_FILE_CHANGED                       Code = 0x80200073

	E_FAIL           Code = 0x80004005
	E_NOTIMPL        Code = 0x80004001
	E_ACCESSDENIED   Code = 0x80070005
	E_INVALIDARG     Code = 0x80070057
	E_FILE_NOT_FOUND Code = 0x80070002 // HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)
	E_PATH_NOT_FOUND Code = 0x80070003
	E_DISK_FULL      Code = 0x80070070
	E_OUTOFMEMORY    Code = 0x8007000E
	E_TIMEOUT        Code = 0x800705B4 // HRESULT_FROM_WIN32(ERROR_TIMEOUT)

	// CO_E_SERVER_EXEC_FAILURE: what COM answers when the BITS service
	// cannot start; here, when no transfer worker can be started.
	CO_E_SERVER_EXEC_FAILURE Code = 0x80080005

	// CRYPT_E_HASH_VALUE: a file does not match the digest its server gave.
	CRYPT_E_HASH_VALUE Code = 0x80091007

	// WinHTTP errors, as BITS reports network failures on Windows.
	WINHTTP_TIMEOUT                 Code = 0x80072EE2
	WINHTTP_NAME_NOT_RESOLVED       Code = 0x80072EE7
	WINHTTP_CANNOT_CONNECT          Code = 0x80072EFD
	WINHTTP_CONNECTION_ERROR        Code = 0x80072EFE
	WINHTTP_SECURE_FAILURE          Code = 0x80072F8F
	WINHTTP_INVALID_SERVER_RESPONSE Code = 0x80072F78
	WINHTTP_CLIENT_AUTH_CERT_NEEDED Code = 0x80072F0C
	WINHTTP_UNRECOGNIZED_SCHEME     Code = 0x80072EE6

	// WinHTTP's certificate errors, one for each class of failure that a
	// BG_SSL_IGNORE_* security flag can waive, and the revocation ones.
	WINHTTP_SECURE_CERT_DATE_INVALID Code = 0x80072F05
	WINHTTP_SECURE_CERT_CN_INVALID   Code = 0x80072F06
	WINHTTP_SECURE_INVALID_CA        Code = 0x80072F0D
	WINHTTP_SECURE_CERT_REV_FAILED   Code = 0x80072F19
	WINHTTP_SECURE_CERT_REVOKED      Code = 0x80072F8A
	WINHTTP_SECURE_CERT_WRONG_USAGE  Code = 0x80072F93
)

// messages holds our own short English text for each code; the few texts
// that Windows output is documented to show are kept word for word.
var messages = map[Code]string{
	S_OK:                        "The operation completed successfully.",
	BG_S_PARTIAL_COMPLETE:       "Some of the transferred files were deleted because they were incomplete.",
	BG_S_UNABLE_TO_DELETE_FILES: "Some of the temporary files could not be deleted.",

	BG_E_NOT_FOUND:                                 "The requested job was not found.",
	BG_E_INVALID_STATE:                             "The requested action is not allowed in the current job state. The job is read-only. The job may have been canceled or completed transferring.",
	BG_E_EMPTY:                                     "There are currently no files attached to this job.",
	BG_E_FILE_NOT_AVAILABLE:                        "No file is available because no error has occurred on a file.",
	BG_E_PROTOCOL_NOT_AVAILABLE:                    "No protocol is available because no error has occurred.",
	BG_E_DESTINATION_LOCKED:                        "The destination volume is locked.",
	BG_E_VOLUME_CHANGED:                            "The destination volume has changed.",
	BG_E_ERROR_INFORMATION_UNAVAILABLE:             "No errors have occurred.",
	BG_E_NETWORK_DISCONNECTED:                      "There are currently no active network connections.",
	BG_E_MISSING_FILE_SIZE:                         "The server did not return the file size. The URL might point to dynamic content.",
	BG_E_INSUFFICIENT_HTTP_SUPPORT:                 "The server does not support HTTP 1.1.",
	BG_E_INSUFFICIENT_RANGE_SUPPORT:                "The server does not support the necessary HTTP protocol: it does not honour the Range and Content-Range headers.",
	BG_E_REMOTE_NOT_SUPPORTED:                      "Remote use of the transfer service is not supported.",
	BG_E_PROXY_LIST_TOO_LARGE:                      "The proxy list is too long.",
	BG_E_PROXY_BYPASS_LIST_TOO_LARGE:               "The proxy bypass list is too long.",
	BG_E_INVALID_SERVER_RESPONSE:                   "The server's response was not valid.",
	BG_E_TOO_MANY_FILES:                            "The job already holds the one file that an upload job may hold.",
	BG_E_LOCAL_FILE_CHANGED:                        "The local file changed during the transfer.",
	BG_E_SESSION_NOT_FOUND:                         "The upload server does not know the upload session.",
	BG_E_TOO_LARGE:                                 "The upload file is larger than the server allows.",
	BG_E_STRING_TOO_LONG:                           "The string is too long.",
	BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH:           "The client and the server share no upload protocol.",
	BG_E_SERVER_EXECUTE_ENABLE:                     "Scripting or execute permissions are enabled on the upload folder of the server.",
	BG_E_NO_PROGRESS:                               "The job made no progress within the no-progress timeout.",
	BG_E_USERNAME_TOO_LARGE:                        "The user name is longer than 300 characters.",
	BG_E_PASSWORD_TOO_LARGE:                        "The password is longer than 65535 characters.",
	BG_E_INVALID_AUTH_TARGET:                       "The authentication target is not valid.",
	BG_E_INVALID_AUTH_SCHEME:                       "The authentication scheme is not valid.",
	BG_E_FILE_NOT_FOUND:                            "The remote file was not found.",
	BG_E_INVALID_RANGE:                             "A requested byte range lies beyond the end of the file.",
	BG_E_OVERLAPPING_RANGES:                        "The list of byte ranges contains some overlapping ranges, which are not supported.",
	BG_E_CONNECT_FAILURE:                           "The connection to the server failed.",
	BG_E_CONNECTION_CLOSED:                         "The connection was closed before the transfer finished.",
	BG_E_KEEP_ALIVE_FAILURE:                        "A kept-alive connection was closed unexpectedly.",
	BG_E_MESSAGE_LENGTH_LIMIT_EXCEEDED:             "The server's message was longer than allowed.",
	BG_E_NAME_RESOLUTION_FAILURE:                   "The server name could not be resolved.",
	BG_E_PENDING:                                   "The request is pending.",
	BG_E_PIPELINE_FAILURE:                          "The pipelined request failed.",
	BG_E_PROTOCOL_ERROR:                            "The server's response broke the protocol.",
	BG_E_PROXY_NAME_RESOLUTION_FAILURE:             "The proxy name could not be resolved.",
	BG_E_RECEIVE_FAILURE:                           "Receiving from the server failed.",
	BG_E_REQUEST_CANCELED:                          "The request was canceled.",
	BG_E_SECURE_CHANNEL_FAILURE:                    "A secure connection could not be established.",
	BG_E_SEND_FAILURE:                              "Sending to the server failed.",
	BG_E_SERVER_PROTOCOL_VIOLATION:                 "The server violated the protocol.",
	BG_E_TIMEOUT:                                   "The operation timed out.",
	BG_E_TRUST_FAILURE:                             "The server's certificate is not trusted.",
	BG_E_UNKNOWN_ERROR:                             "An unknown error occurred.",
	BG_E_BLOCKED_BY_POLICY:                         "Background transfers are blocked by the bandwidth policy at this time.",
	BG_E_INVALID_PROXY_INFO:                        "The proxy settings are not valid.",
	BG_E_INVALID_CREDENTIALS:                       "The credentials are not valid.",
	BG_E_PEERCACHING_DISABLED:                      "Peer caching is disabled.",
	BG_E_TOO_MANY_JOBS_PER_USER:                    "The user has reached the maximum number of jobs.",
	BG_E_TOO_MANY_JOBS_PER_MACHINE:                 "The computer has reached the maximum number of jobs.",
	BG_E_TOO_MANY_FILES_IN_JOB:                     "The job has reached the maximum number of files.",
	BG_E_TOO_MANY_RANGES_IN_FILE:                   "The file has reached the maximum number of ranges.",
	BG_E_VALIDATION_FAILED:                         "The file was marked as not valid.",
	BG_E_MAXDOWNLOAD_TIMEOUT:                       "The job did not finish within its maximum download time.",
	BG_E_TOKEN_REQUIRED:                            "A helper token is required.",
	BG_E_UNKNOWN_PROPERTY_ID:                       "The property is not known.",
	BG_E_READ_ONLY_PROPERTY:                        "The property is read-only.",
	BG_E_BLOCKED_BY_COST_TRANSFER_POLICY:           "The job's transfer policy does not allow transfers on the current network.",
	BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY: "The property is supported for download jobs only.",
	BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE:          "The property cannot be changed after a file has been added.",
	BG_E_READ_ONLY_PROPERTY_AFTER_RESUME:           "The property cannot be changed after the job has been resumed.",
	BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE:           "The maximum download size is not valid.",
	BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED:           "The job exceeded its maximum download size.",
	BG_E_DATABASE_CORRUPT:                          "The job database is corrupt.",
	BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD:     "The setting is not supported with a custom HTTP method.",
	BG_E_UNSUPPORTED_JOB_CONFIGURATION:             "The job's settings cannot be used together.",
	BG_E_REMOTE_FILE_CHANGED:                       "The remote file changed during the transfer.",

	E_FAIL:                   "Unspecified error",
	CO_E_SERVER_EXEC_FAILURE: "Server execution failed",
	E_NOTIMPL:                "Not implemented",
	E_ACCESSDENIED:           "Access is denied.",
	E_INVALIDARG:             "The parameter is incorrect.",
	E_FILE_NOT_FOUND:         "The system cannot find the file specified.",
	E_PATH_NOT_FOUND:         "The system cannot find the path specified.",
	E_DISK_FULL:              "There is not enough space on the disk.",
	E_TIMEOUT:                "This operation returned because the timeout period expired.",
	E_OUTOFMEMORY:            "Not enough memory resources are available to complete this operation.",

	CRYPT_E_HASH_VALUE: "The file does not match the checksum its server gave.",

	WINHTTP_TIMEOUT:                 "The operation timed out",
	WINHTTP_NAME_NOT_RESOLVED:       "The server name or address could not be resolved",
	WINHTTP_CANNOT_CONNECT:          "A connection with the server could not be established",
	WINHTTP_CONNECTION_ERROR:        "The connection with the server was terminated abnormally",
	WINHTTP_SECURE_FAILURE:          "A security error occurred",
	WINHTTP_INVALID_SERVER_RESPONSE: "The server returned an invalid or unrecognized response",
	WINHTTP_CLIENT_AUTH_CERT_NEEDED: "The server requires a client certificate",
	WINHTTP_UNRECOGNIZED_SCHEME:     "The URL does not use a recognized protocol",

	WINHTTP_SECURE_CERT_DATE_INVALID: "The date in the certificate is invalid or has expired",
	WINHTTP_SECURE_CERT_CN_INVALID:   "The host name in the certificate is invalid or does not match",
	WINHTTP_SECURE_INVALID_CA:        "The certificate authority is invalid or incorrect",
	WINHTTP_SECURE_CERT_REV_FAILED:   "Revocation information for the security certificate for this site is not available",
	WINHTTP_SECURE_CERT_REVOKED:      "The supplied certificate has been revoked",
	WINHTTP_SECURE_CERT_WRONG_USAGE:  "The certificate is not valid for the requested usage",
}

var contextMessages = map[Context]string{
	ContextNone:                     "No error context.",
	ContextUnknown:                  "The error occurred in an unknown location.",
	ContextGeneralQueueManager:      "The error occurred in the transfer queue manager.",
	ContextQueueManagerNotification: "The error occurred while the notification program was being run.",
	ContextLocalFile:                "The error occurred while the local file was being processed.",
	ContextRemoteFile:               "The error occurred while the remote file was being processed.",
	ContextGeneralTransport:         "The error occurred in the transport layer.",
	ContextRemoteApplication:        "The error occurred while the server application was processing the upload.",
	ContextServerCertificate:        "The server certificate was rejected by the certificate validation callback.",
}

func httpReason(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "unknown status"
}
