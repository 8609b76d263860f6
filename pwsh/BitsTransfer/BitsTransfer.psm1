# BitsTransfer for Linux and macOS: the eight cmdlets of Windows' BitsTransfer
# module, over the bitsjob command line.
#
# Every call to bitsjob goes through Invoke-Bitsjob, which adds --json and
# reads JSON Lines only, never the human tables. Its arguments are always built
# in a variable whose first assignment is an array that starts with the
# bitsjob command words as literals, and every flag is written as a literal
# '--name' or "--name=...". The contract test in internal/cli/bitsjob reads this
# file's syntax tree and relies on these conventions to check that every
# command and flag used here exists in bitsjob.

$script:JobTypeName = 'Microsoft.BackgroundIntelligentTransfer.Management.BitsJob'
$script:FileTypeName = 'Microsoft.BackgroundIntelligentTransfer.Management.BitsFile'
$script:SchemaVersion = 1
$script:DefaultDescription = 'This is a file transfer that uses the Background Intelligent Transfer Service (BITS).'

# The enumerations of Windows' module, in its namespace, so that scripts that
# name them (for example [Microsoft.BackgroundIntelligentTransfer.Management.CostStates]::Unrestricted)
# keep working. Member names Windows does not document are our choice (docs/powershell.md).
if (-not ('Microsoft.BackgroundIntelligentTransfer.Management.JobState' -as [type])) {
    Add-Type -TypeDefinition @'
namespace Microsoft.BackgroundIntelligentTransfer.Management
{
    public enum JobState
    {
        Queued = 0, Connecting = 1, Transferring = 2, Suspended = 3, Error = 4,
        TransientError = 5, Transferred = 6, Acknowledged = 7, Cancelled = 8
    }

    public enum TransferType { Download = 0, Upload = 1, UploadReply = 2 }

    public enum Priority { Foreground = 0, High = 1, Normal = 2, Low = 3 }

    public enum ProxyUsage { SystemDefault = 0, NoProxy = 1, Override = 2, AutoDetect = 3 }

    public enum ErrorContext
    {
        None = 0, Unknown = 1, GeneralQueueManager = 2, QueueManagerNotification = 3, LocalFile = 4,
        RemoteFile = 5, GeneralTransport = 6, RemoteApplication = 7, ServerCertificateCallback = 8
    }

    public enum ErrorCondition { NoError = 0, TransientError = 1, Error = 2 }

    [System.Flags]
    public enum CostStates : uint
    {
        None = 0, Unrestricted = 0x1, Capped = 0x2, BelowCap = 0x4, NearCap = 0x8,
        OverCapCharged = 0x10, OverCapThrottled = 0x20, UsageBased = 0x40, Roaming = 0x80,
        IgnoreCongestion = 0x80000000, PolicyUnrestricted = 0x80000021, Standard = 0x80000067,
        NoSurcharge = 0x8000006F, NotRoaming = 0x8000007F, Always = 0x800000FF
    }

    [System.Flags]
    public enum AuthenticationTargetValue { None = 0, Server = 1, Proxy = 2 }

    [System.Flags]
    public enum ACLFlagValue { o = 1, g = 2, d = 4, s = 8 }

    [System.Flags]
    public enum NotifyFlagValue { JobTransferred = 1, JobError = 2, Disable = 4 }

    [System.Flags]
    public enum SecurityFlagValue : uint
    {
        None = 0, EnableCrlCheck = 0x1, IgnoreCertCnInvalid = 0x2, IgnoreCertDateInvalid = 0x4,
        IgnoreUnknownCa = 0x8, IgnoreCertWrongUsage = 0x10, RedirectPolicyAllowReport = 0x100,
        RedirectPolicyDisallow = 0x200, AllowHttpsToHttp = 0x800
    }

    public enum CertStoreLocationValue
    {
        CURRENT_USER = 0, LOCAL_MACHINE = 1, CURRENT_SERVICE = 2, SERVICES = 3, USERS = 4,
        CURRENT_USER_GROUP_POLICY = 5, LOCAL_MACHINE_GROUP_POLICY = 6, LOCAL_MACHINE_ENTERPRISE = 7
    }
}
'@
}

# ---------------------------------------------------------------------------
# Running bitsjob

function Get-BitsjobPath {
    # $env:BITSJOB_BIN, else bitsjob on PATH, else a bitsjob beside the module.
    if ($env:BITSJOB_BIN) {
        return $env:BITSJOB_BIN
    }
    $command = Get-Command -Name 'bitsjob' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($command) {
        return $command.Source
    }
    $beside = Join-Path -Path $PSScriptRoot -ChildPath 'bitsjob'
    if (Test-Path -LiteralPath $beside -PathType Leaf) {
        return $beside
    }
    throw [System.IO.FileNotFoundException]::new('bitsjob was not found: put it on PATH or set $env:BITSJOB_BIN to its path.')
}

function Invoke-Bitsjob {
    # Runs bitsjob with the arguments and --json. Each line bitsjob prints is
    # one JSON document: it goes to OnRecord as it arrives, or is returned in
    # Records. The JSON errors bitsjob prints on stderr come back as
    # ErrorRecords in Errors, for the calling cmdlet to write.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)]
        [string[]] $Arguments,
        [string] $InputText,
        [scriptblock] $OnRecord,
        [object] $Target
    )
    $startInfo = [System.Diagnostics.ProcessStartInfo]::new((Get-BitsjobPath))
    foreach ($argument in $Arguments) {
        if ($null -ne $argument) {
            $startInfo.ArgumentList.Add($argument)
        }
    }
    $startInfo.ArgumentList.Add('--json')
    $startInfo.UseShellExecute = $false
    $startInfo.RedirectStandardInput = $true
    $startInfo.RedirectStandardOutput = $true
    $startInfo.RedirectStandardError = $true
    $startInfo.WorkingDirectory = (Get-Location -PSProvider FileSystem).ProviderPath

    $records = [System.Collections.Generic.List[object]]::new()
    $process = [System.Diagnostics.Process]::Start($startInfo)
    $finished = $false
    try {
        $stderrTask = $process.StandardError.ReadToEndAsync()
        if ($PSBoundParameters.ContainsKey('InputText')) {
            $process.StandardInput.Write($InputText)
        }
        $process.StandardInput.Close()
        while ($true) {
            $lineTask = $process.StandardOutput.ReadLineAsync()
            # Wait in short slices: PowerShell notices Ctrl+C between statements.
            while (-not $lineTask.Wait(200)) {
            }
            $line = $lineTask.Result
            if ($null -eq $line) {
                break
            }
            if ($line.Trim().Length -eq 0) {
                continue
            }
            $record = ConvertFrom-Json -InputObject $line
            if ($OnRecord) {
                $null = & $OnRecord $record
            }
            else {
                $records.Add($record)
            }
        }
        $process.WaitForExit()
        $stderrText = $stderrTask.GetAwaiter().GetResult()
        $exitCode = $process.ExitCode
        $finished = $true
    }
    finally {
        if (-not $finished -and -not $process.HasExited) {
            $process.Kill()
        }
        $process.Dispose()
    }

    $errors = [System.Collections.Generic.List[System.Management.Automation.ErrorRecord]]::new()
    $warnings = [System.Collections.Generic.List[string]]::new()
    foreach ($errorLine in ($stderrText -split "`n")) {
        if ($errorLine.Trim().Length -eq 0) {
            continue
        }
        $document = $null
        try {
            $document = ConvertFrom-Json -InputObject $errorLine
        }
        catch {
            $document = $null
        }
        if ($null -ne $document -and $null -ne $document.PSObject.Properties['Error']) {
            $errors.Add((New-BitsErrorRecord -Body $document.Error -Target $Target))
        }
        elseif ($null -ne $document -and $null -ne $document.PSObject.Properties['Warning']) {
            $warnings.Add(('{0} [{1}]' -f $document.Warning.Message, $document.Warning.HResult))
        }
        else {
            # Not JSON: a message from outside bitsjob's own reporting.
            $errors.Add((New-BitsErrorRecord -Body ([pscustomobject]@{
                            HResult = '0x80004005'; Code = -2147467259; Message = $errorLine.Trim(); Context = 'Unknown'
                        }) -Target $Target))
        }
    }
    if ($exitCode -ne 0 -and $errors.Count -eq 0) {
        $errors.Add((New-BitsErrorRecord -Body ([pscustomobject]@{
                        HResult = '0x80004005'; Code = -2147467259; Message = "bitsjob exited with status $exitCode."; Context = 'Unknown'
                    }) -Target $Target))
    }
    [pscustomobject]@{
        Records  = $records.ToArray()
        Errors   = $errors.ToArray()
        Warnings = $warnings.ToArray()
        ExitCode = $exitCode
    }
}

function New-BitsErrorRecord {
    # An ErrorRecord for a bitsjob error object: a COMException whose HResult
    # is the BITS HRESULT, the HRESULT as error id, and a category.
    param(
        [Parameter(Mandatory)]
        [object] $Body,
        [object] $Target
    )
    $message = [string]$Body.Message
    if ($null -ne $Body.PSObject.Properties['Detail'] -and $Body.Detail) {
        $message = '{0} ({1})' -f $message, $Body.Detail
    }
    $exception = [System.Runtime.InteropServices.COMException]::new($message, [int]$Body.Code)
    $category = switch ([string]$Body.HResult) {
        '0x80200001' { 'ObjectNotFound' }
        '0x80070005' { 'PermissionDenied' }
        '0x80070057' { 'InvalidArgument' }
        '0x80200002' { 'InvalidOperation' }
        '0x80004004' { 'OperationStopped' }
        default { 'NotSpecified' }
    }
    [System.Management.Automation.ErrorRecord]::new($exception, [string]$Body.HResult,
        [System.Management.Automation.ErrorCategory]$category, $Target)
}

function New-BitsError {
    # An ErrorRecord for a refusal of the module itself.
    param(
        [Parameter(Mandatory)]
        [string] $HResult,
        [Parameter(Mandatory)]
        [string] $Message,
        [object] $Target
    )
    # As a signed 32-bit number, the way Exception.HResult shows it.
    $value = [System.Convert]::ToInt64($HResult.Substring(2), 16)
    if ($value -gt [int]::MaxValue) {
        $value -= 4294967296
    }
    $code = [int]$value
    New-BitsErrorRecord -Body ([pscustomobject]@{ HResult = $HResult; Code = $code; Message = $Message; Context = 'None' }) -Target $Target
}

function Write-BitsjobResult {
    # Writes the errors and warnings of an Invoke-Bitsjob result through the
    # calling cmdlet; returns $true when there was no error.
    param(
        [Parameter(Mandatory)]
        [object] $Result,
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    foreach ($warning in $Result.Warnings) {
        $Cmdlet.WriteWarning($warning)
    }
    foreach ($record in $Result.Errors) {
        $Cmdlet.WriteError($record)
    }
    return ($Result.Errors.Count -eq 0)
}

# ---------------------------------------------------------------------------
# BitsJob objects

function ConvertTo-UInt64 {
    # JSON readers give all ones (BG_SIZE_UNKNOWN) as a big integer, a decimal
    # or a double; all of them mean [uint64]::MaxValue.
    param([object] $Value)
    if ($null -eq $Value) {
        return [uint64]0
    }
    if ($Value -is [double] -and $Value -ge 1.8e19) {
        return [uint64]::MaxValue
    }
    return [uint64]$Value
}

function ConvertTo-BitsDate {
    # Times come as RFC 3339 UTC, or null when not set; Windows shows an unset
    # time as 1/1/0001 12:00:00 AM ([datetime]::MinValue), and so do we.
    param([object] $Value)
    if ($null -eq $Value -or ($Value -is [string] -and $Value.Length -eq 0)) {
        return [datetime]::MinValue
    }
    if ($Value -is [datetime]) {
        return $Value.ToLocalTime()
    }
    return [datetime]::Parse([string]$Value, [System.Globalization.CultureInfo]::InvariantCulture,
        [System.Globalization.DateTimeStyles]::RoundtripKind).ToLocalTime()
}

function ConvertTo-BitsJob {
    # Turns one bitsjob JSON job into a BitsJob object.
    param(
        [Parameter(Mandatory)]
        [object] $Record
    )
    if ([int]$Record.SchemaVersion -ne $script:SchemaVersion) {
        throw [System.InvalidOperationException]::new(('bitsjob speaks JSON schema {0}; this module reads schema {1}.' -f $Record.SchemaVersion, $script:SchemaVersion))
    }
    $files = [System.Collections.Generic.List[object]]::new()
    foreach ($f in @($Record.FileList)) {
        $file = [pscustomobject]@{
            RemoteName         = [string]$f.RemoteName
            LocalName          = [string]$f.LocalName
            BytesTotal         = ConvertTo-UInt64 $f.BytesTotal
            BytesTransferred   = ConvertTo-UInt64 $f.BytesTransferred
            IsTransferComplete = [bool]$f.IsTransferComplete
            TemporaryName      = [string]$f.TemporaryName
            ValidationState    = [string]$f.ValidationState
        }
        $file.PSObject.TypeNames.Insert(0, $script:FileTypeName)
        $files.Add($file)
    }
    $certLocation = $null
    if ($null -ne $Record.CertStoreLocation) {
        $certLocation = [Microsoft.BackgroundIntelligentTransfer.Management.CertStoreLocationValue]$Record.CertStoreLocation
    }
    $job = [pscustomobject]@{
        JobId                   = [guid]$Record.JobId
        DisplayName             = [string]$Record.DisplayName
        Description             = [string]$Record.Description
        TransferType            = [Microsoft.BackgroundIntelligentTransfer.Management.TransferType]$Record.TransferType
        JobState                = [Microsoft.BackgroundIntelligentTransfer.Management.JobState]$Record.JobState
        OwnerAccount            = [string]$Record.OwnerAccount
        Priority                = [Microsoft.BackgroundIntelligentTransfer.Management.Priority]$Record.Priority
        TransferPolicy          = [Microsoft.BackgroundIntelligentTransfer.Management.CostStates]$Record.TransferPolicy
        RetryInterval           = [int]$Record.RetryInterval
        RetryTimeout            = [int]$Record.RetryTimeout
        MaxDownloadTime         = [int]$Record.MaxDownloadTime
        TransientErrorCount     = [int]$Record.TransientErrorCount
        ProxyUsage              = [Microsoft.BackgroundIntelligentTransfer.Management.ProxyUsage]$Record.ProxyUsage
        ProxyList               = [string[]]@($Record.ProxyList)
        ProxyBypassList         = [string[]]@($Record.ProxyBypassList)
        ErrorContext            = [Microsoft.BackgroundIntelligentTransfer.Management.ErrorContext]$Record.ErrorContext
        ErrorCondition          = [Microsoft.BackgroundIntelligentTransfer.Management.ErrorCondition]$Record.ErrorCondition
        InternalErrorCode       = [int]$Record.InternalErrorCode
        ErrorDescription        = [string]$Record.ErrorDescription
        ErrorContextDescription = [string]$Record.ErrorContextDescription
        BytesTotal              = ConvertTo-UInt64 $Record.BytesTotal
        BytesTransferred        = ConvertTo-UInt64 $Record.BytesTransferred
        FilesTotal              = [uint32]$Record.FilesTotal
        FilesTransferred        = [uint32]$Record.FilesTransferred
        CreationTime            = ConvertTo-BitsDate $Record.CreationTime
        ModificationTime        = ConvertTo-BitsDate $Record.ModificationTime
        TransferCompletionTime  = ConvertTo-BitsDate $Record.TransferCompletionTime
        FileList                = $files.ToArray()
        NotifyFlags             = [Microsoft.BackgroundIntelligentTransfer.Management.NotifyFlagValue][uint32]$Record.NotifyFlags
        NotifyCmdLine           = [string[]]@($Record.NotifyCmdLine)
        CustomHeaders           = [string[]]@($Record.CustomHeaders)
        CustomHeadersWriteOnly  = [bool]$Record.CustomHeadersWriteOnly
        HttpMethod              = [string]$Record.HttpMethod
        SecurityFlags           = [Microsoft.BackgroundIntelligentTransfer.Management.SecurityFlagValue][uint32]$Record.SecurityFlags
        ACLFlags                = [Microsoft.BackgroundIntelligentTransfer.Management.ACLFlagValue][uint32]$Record.ACLFlags
        Dynamic                 = [bool]$Record.Dynamic
        CertStoreLocation       = $certLocation
        CertStoreName           = [string]$Record.CertStoreName
        CertHash                = [string]$Record.CertHash
    }
    $job.PSObject.TypeNames.Insert(0, $script:JobTypeName)
    $job
}

function Get-BitsJobId {
    # The GUID of a BitsJob (or of anything with a JobId, or a Guid), as bitsjob takes it.
    param([object] $Job)
    if ($Job -is [guid]) {
        return $Job.ToString()
    }
    $property = $null
    if ($null -ne $Job) {
        $property = $Job.PSObject.Properties['JobId']
    }
    if ($null -eq $property -or $null -eq $property.Value) {
        throw [System.ArgumentException]::new('The object is not a BitsJob: it has no JobId.')
    }
    return ([guid]$property.Value).ToString()
}

# ---------------------------------------------------------------------------
# Settings shared by Start-BitsTransfer and Set-BitsTransfer

function ConvertTo-BitsjobSetting {
    # The bitsjob flags for the settings the caller bound. Certificate stores
    # other than CURRENT_USER and LOCAL_MACHINE have no Unix counterpart and
    # are refused (docs/powershell.md).
    param(
        [Parameter(Mandatory)]
        [System.Collections.IDictionary] $Bound
    )
    $flags = [System.Collections.Generic.List[string]]::new()
    if ($Bound.ContainsKey('Description')) {
        $flags.Add("--description=$($Bound['Description'])")
    }
    if ($Bound.ContainsKey('Priority')) {
        $flags.Add("--priority=$($Bound['Priority'])")
    }
    if ($Bound.ContainsKey('TransferPolicy')) {
        $flags.Add("--transfer-policy=$([uint32]$Bound['TransferPolicy'])")
    }
    if ($Bound.ContainsKey('RetryInterval')) {
        # The cmdlet's floor is 60 seconds; smaller values are raised, as BITS does.
        $flags.Add("--retry-interval=$([System.Math]::Max(60, [int]$Bound['RetryInterval']))")
    }
    if ($Bound.ContainsKey('RetryTimeout')) {
        $flags.Add("--retry-timeout=$([int]$Bound['RetryTimeout'])")
    }
    if ($Bound.ContainsKey('MaxDownloadTime')) {
        $flags.Add("--max-download-time=$([int]$Bound['MaxDownloadTime'])")
    }
    if ($Bound.ContainsKey('Dynamic')) {
        $flags.Add("--dynamic=$(([bool]$Bound['Dynamic']).ToString().ToLowerInvariant())")
    }
    if ($Bound.ContainsKey('HttpMethod')) {
        $flags.Add("--http-method=$($Bound['HttpMethod'])")
    }
    if ($Bound.ContainsKey('CustomHeaders')) {
        $headers = @($Bound['CustomHeaders'])
        if ($headers.Count -eq 0) {
            $headers = @('')
        }
        foreach ($header in $headers) {
            $flags.Add("--custom-header=$header")
        }
    }
    if ($Bound.ContainsKey('CustomHeadersWriteOnly') -and [bool]$Bound['CustomHeadersWriteOnly']) {
        $flags.Add('--custom-headers-write-only')
    }
    if ($Bound.ContainsKey('NotifyFlags')) {
        $flags.Add("--notify-flags=$([uint32]$Bound['NotifyFlags'])")
    }
    if ($Bound.ContainsKey('NotifyCmdLine')) {
        $words = @($Bound['NotifyCmdLine'])
        if ($words.Count -eq 0) {
            $words = @('')
        }
        foreach ($word in $words) {
            $flags.Add("--notify-cmdline=$word")
        }
    }
    if ($Bound.ContainsKey('ACLFlags')) {
        $flags.Add("--acl-flags=$([uint32]$Bound['ACLFlags'])")
    }
    if ($Bound.ContainsKey('SecurityFlags')) {
        $flags.Add("--security-flags=$([uint32]$Bound['SecurityFlags'])")
    }
    if ($Bound.ContainsKey('ProxyUsage')) {
        $flags.Add("--proxy-usage=$($Bound['ProxyUsage'])")
    }
    if ($Bound.ContainsKey('ProxyList')) {
        foreach ($proxy in @($Bound['ProxyList'])) {
            $flags.Add("--proxy-list=$(([uri]$proxy).OriginalString)")
        }
    }
    if ($Bound.ContainsKey('ProxyBypass')) {
        foreach ($bypass in @($Bound['ProxyBypass'])) {
            $flags.Add("--proxy-bypass=$bypass")
        }
    }
    $certificate = @('CertStoreLocation', 'CertStoreName', 'CertHash') | Where-Object { $Bound.ContainsKey($_) }
    if ($certificate) {
        if (-not ($Bound.ContainsKey('CertStoreName') -and $Bound.ContainsKey('CertHash'))) {
            throw [System.ArgumentException]::new('A client certificate needs -CertStoreName and -CertHash (and -CertStoreLocation, CURRENT_USER by default).')
        }
        $location = [Microsoft.BackgroundIntelligentTransfer.Management.CertStoreLocationValue]::CURRENT_USER
        if ($Bound.ContainsKey('CertStoreLocation')) {
            $location = [Microsoft.BackgroundIntelligentTransfer.Management.CertStoreLocationValue]$Bound['CertStoreLocation']
        }
        if ($location -ne 'CURRENT_USER' -and $location -ne 'LOCAL_MACHINE') {
            throw [System.ArgumentException]::new("-CertStoreLocation $location has no counterpart on Unix: use CURRENT_USER (your own certificates) or LOCAL_MACHINE (the system's).")
        }
        $hash = [System.Convert]::ToHexString([byte[]]$Bound['CertHash'])
        $flags.Add("--cert-store-location=$location")
        $flags.Add("--cert-store-name=$($Bound['CertStoreName'])")
        $flags.Add("--cert-hash=$hash")
    }
    # The comma keeps an empty list a list, instead of $null.
    return , $flags.ToArray()
}

function Set-BitsjobCredential {
    # Stores the credentials the caller bound on a job, one bitsjob call each;
    # passwords go through standard input, never the command line. Returns
    # the job as it is afterwards, or $null after writing an error.
    param(
        [Parameter(Mandatory)]
        [string] $JobId,
        [Parameter(Mandatory)]
        [System.Collections.IDictionary] $Bound,
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet] $Cmdlet,
        [object] $Target
    )
    $last = $null
    $requests = [System.Collections.Generic.List[object]]::new()
    if ($Bound.ContainsKey('Credential') -and $null -ne $Bound['Credential']) {
        $scheme = 'Negotiate'
        if ($Bound.ContainsKey('Authentication')) {
            $scheme = $Bound['Authentication']
        }
        $requests.Add(@{ Key = "server:$scheme"; Credential = $Bound['Credential'] })
    }
    if ($Bound.ContainsKey('ProxyCredential') -and $null -ne $Bound['ProxyCredential']) {
        $scheme = 'Negotiate'
        if ($Bound.ContainsKey('ProxyAuthentication')) {
            $scheme = $Bound['ProxyAuthentication']
        }
        $requests.Add(@{ Key = "proxy:$scheme"; Credential = $Bound['ProxyCredential'] })
    }
    if ($Bound.ContainsKey('UseStoredCredential')) {
        $stored = [Microsoft.BackgroundIntelligentTransfer.Management.AuthenticationTargetValue]$Bound['UseStoredCredential']
        if ($stored.HasFlag([Microsoft.BackgroundIntelligentTransfer.Management.AuthenticationTargetValue]::Server)) {
            $Cmdlet.WriteError((New-BitsError -HResult '0x80200066' -Target $Target -Message 'Stored credentials can be used for proxies only (-UseStoredCredential Proxy).'))
            return $null
        }
        if ($stored.HasFlag([Microsoft.BackgroundIntelligentTransfer.Management.AuthenticationTargetValue]::Proxy)) {
            # The owner's own identity, answered to the proxy's NTLM or Negotiate challenge.
            $requests.Add(@{ Key = 'proxy:Negotiate'; Credential = $null })
        }
    }
    foreach ($request in $requests) {
        $argv = @('set', $JobId, '--credential', $request.Key)
        $stdinText = $null
        if ($null -ne $request.Credential) {
            $network = $request.Credential.GetNetworkCredential()
            $user = $request.Credential.UserName
            $argv += @('--user', $user, '--password-stdin')
            $stdinText = $network.Password + "`n"
        }
        if ($null -ne $stdinText) {
            $result = Invoke-Bitsjob -Arguments $argv -InputText $stdinText -Target $Target
        }
        else {
            $result = Invoke-Bitsjob -Arguments $argv -Target $Target
        }
        if (-not (Write-BitsjobResult -Result $result -Cmdlet $Cmdlet)) {
            return $null
        }
        $last = $result.Records | Select-Object -Last 1
    }
    if ($null -eq $last) {
        return $true
    }
    return $last
}

# ---------------------------------------------------------------------------
# Files

function Test-RemoteName {
    # URLs (scheme://...) and UNC paths are remote; anything else is a local path.
    param([string] $Name)
    return ($Name -match '^[A-Za-z][A-Za-z0-9+.-]*://' -or $Name.StartsWith('\\'))
}

function Get-LeafName {
    # The file name at the end of a URL or a path.
    param([string] $Name)
    if ($Name -match '^[A-Za-z][A-Za-z0-9+.-]*://') {
        $path = ([uri]$Name).AbsolutePath
        return [uri]::UnescapeDataString(($path -split '/')[-1])
    }
    return ($Name -split '[\\/]')[-1]
}

function Resolve-LocalName {
    # Local names become absolute paths, relative to PowerShell's current
    # location (which is not the process's current folder). Wildcards expand
    # to the files they match when Expand is set.
    param(
        [Parameter(Mandatory)]
        [string] $Name,
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet] $Cmdlet,
        [switch] $Expand
    )
    if ($Expand -and [System.Management.Automation.WildcardPattern]::ContainsWildcardCharacters($Name)) {
        $matched = @(Resolve-Path -Path $Name -ErrorAction SilentlyContinue | ForEach-Object { $_.ProviderPath })
        if ($matched.Count -eq 0) {
            throw [System.Management.Automation.ItemNotFoundException]::new("No file matches '$Name'.")
        }
        return $matched
    }
    return $Cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Name)
}

function Resolve-TransferPair {
    # Pairs sources with destinations as Start-BitsTransfer and Add-BitsFile
    # do: local wildcards expand; no destination means the current folder; a
    # destination that is a folder (or ends with a separator) receives every
    # source under its own name; otherwise the counts must match.
    param(
        [Parameter(Mandatory)]
        [string[]] $Source,
        [string[]] $Destination,
        [Parameter(Mandatory)]
        [string] $TransferType,
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    $download = ($TransferType -eq 'Download')
    $sources = [System.Collections.Generic.List[string]]::new()
    foreach ($s in $Source) {
        if (Test-RemoteName $s) {
            $sources.Add($s)
        }
        else {
            foreach ($local in @(Resolve-LocalName -Name $s -Cmdlet $Cmdlet -Expand)) {
                $sources.Add($local)
            }
        }
    }
    $targets = [System.Collections.Generic.List[string]]::new()
    $destinations = @($Destination | Where-Object { $null -ne $_ -and $_.Length -gt 0 })
    if ($destinations.Count -eq 0) {
        if (-not $download) {
            throw [System.ArgumentException]::new('An upload needs -Destination: the URL to upload to.')
        }
        $destinations = @('.')
    }
    $folder = $null
    if ($destinations.Count -eq 1 -and $download) {
        $only = $destinations[0]
        $resolved = Resolve-LocalName -Name $only -Cmdlet $Cmdlet
        if ($only.EndsWith('/') -or $only.EndsWith('\') -or (Test-Path -LiteralPath $resolved -PathType Container)) {
            $folder = $resolved
        }
    }
    if ($null -ne $folder) {
        foreach ($s in $sources) {
            $targets.Add((Join-Path -Path $folder -ChildPath (Get-LeafName $s)))
        }
    }
    elseif ($destinations.Count -ne $sources.Count) {
        throw [System.ArgumentException]::new(('There are {0} sources and {1} destinations: give one destination per source, or one folder.' -f $sources.Count, $destinations.Count))
    }
    else {
        foreach ($d in $destinations) {
            if ($download -or -not (Test-RemoteName $d)) {
                $targets.Add((Resolve-LocalName -Name $d -Cmdlet $Cmdlet))
            }
            else {
                $targets.Add($d)
            }
        }
    }
    $pairs = [System.Collections.Generic.List[string]]::new()
    for ($i = 0; $i -lt $sources.Count; $i++) {
        if ($download) {
            $pairs.Add($sources[$i])
            $pairs.Add($targets[$i])
        }
        else {
            # bitsjob takes REMOTE LOCAL: for an upload the remote is the destination.
            $pairs.Add($targets[$i])
            $pairs.Add($sources[$i])
        }
    }
    return , $pairs.ToArray()
}

# ---------------------------------------------------------------------------
# Waiting for jobs

function Wait-BitsTransferJob {
    # Follows jobs with `bitsjob watch` until each is transferred (then
    # completes it), failed (then writes its error) or gone, showing one
    # progress bar per job. With CancelOnStop, jobs still unfinished when the
    # user presses Ctrl+C are cancelled.
    param(
        [Parameter(Mandatory)]
        [object[]] $Jobs,
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet] $Cmdlet,
        [switch] $CancelOnStop
    )
    $latest = @{}
    $progressIds = @{}
    foreach ($job in $Jobs) {
        $id = Get-BitsJobId $job
        $latest[$id] = $job
        $progressIds[$id] = $progressIds.Count + 1
    }
    $watched = $false
    try {
        $argv = @('watch')
        $argv += @($latest.Keys)
        $result = Invoke-Bitsjob -Arguments $argv -OnRecord {
            param($watchEvent)
            $id = [string]$watchEvent.JobId
            if ($watchEvent.Event -eq 'Gone') {
                $latest[$id] = $null
                Write-Progress -Id $progressIds[$id] -Activity 'BITS transfer' -Completed
                return
            }
            $job = ConvertTo-BitsJob $watchEvent.Job
            $latest[$id] = $job
            $percent = 0
            if ($job.BytesTotal -gt 0 -and $job.BytesTotal -ne [uint64]::MaxValue) {
                $percent = [int][System.Math]::Min(100, [System.Math]::Floor(100.0 * $job.BytesTransferred / $job.BytesTotal))
            }
            $total = 'unknown'
            if ($job.BytesTotal -ne [uint64]::MaxValue) {
                $total = $job.BytesTotal
            }
            $activity = 'BITS transfer'
            if ($job.DisplayName) {
                $activity = $job.DisplayName
            }
            $operation = '{0} of {1} bytes, {2} of {3} files' -f $job.BytesTransferred, $total, $job.FilesTransferred, $job.FilesTotal
            Write-Progress -Id $progressIds[$id] -Activity $activity -Status ([string]$job.JobState) -PercentComplete $percent -CurrentOperation $operation
        }
        $watched = $true
        $null = Write-BitsjobResult -Result $result -Cmdlet $Cmdlet
    }
    finally {
        foreach ($id in @($progressIds.Keys)) {
            Write-Progress -Id $progressIds[$id] -Activity 'BITS transfer' -Completed
        }
        if (-not $watched -and $CancelOnStop) {
            $argv = @('cancel')
            $argv += @($latest.Keys | Where-Object { $null -ne $latest[$_] })
            if ($argv.Count -gt 1) {
                $null = Invoke-Bitsjob -Arguments $argv
            }
        }
    }
    if (-not $watched) {
        return
    }
    foreach ($id in @($latest.Keys)) {
        $job = $latest[$id]
        if ($null -eq $job) {
            $Cmdlet.WriteError((New-BitsError -HResult '0x80200001' -Target $id -Message "The job $id was completed or cancelled before its transfer finished."))
            continue
        }
        if ($job.JobState -eq 'Transferred') {
            $argv = @('complete', $id)
            $completed = Invoke-Bitsjob -Arguments $argv -Target $job
            $null = Write-BitsjobResult -Result $completed -Cmdlet $Cmdlet
            continue
        }
        if ($job.JobState -eq 'Error') {
            $code = '0x{0:X8}' -f $job.InternalErrorCode
            $Cmdlet.WriteError((New-BitsErrorRecord -Target $job -Body ([pscustomobject]@{
                            HResult = $code; Code = $job.InternalErrorCode; Context = [string]$job.ErrorContext
                            Message = $job.ErrorDescription; Detail = $job.ErrorContextDescription
                        })))
        }
    }
}

# ---------------------------------------------------------------------------
# The cmdlets

function Start-BitsTransfer {
    <#
    .SYNOPSIS
    Creates a BITS transfer job and, unless -Asynchronous or -Suspended, waits for it and completes it.
    #>
    [CmdletBinding(SupportsShouldProcess)]
    [OutputType('Microsoft.BackgroundIntelligentTransfer.Management.BitsJob')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipelineByPropertyName)]
        [string[]] $Source,

        [Parameter(Position = 1, ValueFromPipelineByPropertyName)]
        [string[]] $Destination,

        [switch] $Asynchronous,

        [switch] $Suspended,

        [ValidateSet('Download', 'Upload', 'UploadReply')]
        [string] $TransferType = 'Download',

        [ValidateLength(0, 256)]
        [string] $DisplayName = 'BITS Transfer',

        [ValidateLength(0, 1024)]
        [string] $Description = $script:DefaultDescription,

        [ValidateSet('Foreground', 'High', 'Normal', 'Low')]
        [string] $Priority = 'Foreground',

        [Microsoft.BackgroundIntelligentTransfer.Management.CostStates] $TransferPolicy,

        [ValidateSet('Basic', 'Digest', 'Ntlm', 'Negotiate', 'Passport')]
        [string] $Authentication = 'Negotiate',

        [pscredential] $Credential,

        [ValidateSet('Basic', 'Digest', 'Ntlm', 'Negotiate', 'Passport')]
        [string] $ProxyAuthentication = 'Negotiate',

        [pscredential] $ProxyCredential,

        [Microsoft.BackgroundIntelligentTransfer.Management.AuthenticationTargetValue] $UseStoredCredential,

        [ValidateSet('SystemDefault', 'NoProxy', 'AutoDetect', 'Override')]
        [string] $ProxyUsage,

        [uri[]] $ProxyList,

        [string[]] $ProxyBypass,

        [int] $RetryInterval,

        [int] $RetryTimeout,

        [int] $MaxDownloadTime,

        [switch] $Dynamic,

        [string] $HttpMethod,

        [string[]] $CustomHeaders,

        [switch] $CustomHeadersWriteOnly,

        [Microsoft.BackgroundIntelligentTransfer.Management.NotifyFlagValue] $NotifyFlags,

        [string[]] $NotifyCmdLine,

        [Microsoft.BackgroundIntelligentTransfer.Management.ACLFlagValue] $ACLFlags,

        [Microsoft.BackgroundIntelligentTransfer.Management.SecurityFlagValue] $SecurityFlags,

        [Microsoft.BackgroundIntelligentTransfer.Management.CertStoreLocationValue] $CertStoreLocation,

        [ValidateSet('CA', 'MY', 'ROOT', 'SPC')]
        [string] $CertStoreName,

        [byte[]] $CertHash
    )
    begin {
        $pending = [System.Collections.Generic.List[object]]::new()
    }
    process {
        try {
            $pairs = Resolve-TransferPair -Source $Source -Destination $Destination -TransferType $TransferType -Cmdlet $PSCmdlet
            $settings = ConvertTo-BitsjobSetting -Bound $PSBoundParameters
        }
        catch {
            $PSCmdlet.WriteError([System.Management.Automation.ErrorRecord]::new($_.Exception, '0x80070057',
                    [System.Management.Automation.ErrorCategory]::InvalidArgument, $Source))
            return
        }
        if (-not $PSCmdlet.ShouldProcess(($Source -join ', '), 'Start BITS transfer')) {
            return
        }
        $argv = @('create', "--name=$DisplayName", "--type=$TransferType", "--description=$Description", "--priority=$Priority")
        $argv += @($settings)
        $argv += '--'
        $argv += @($pairs)
        $created = Invoke-Bitsjob -Arguments $argv -Target $Source
        if (-not (Write-BitsjobResult -Result $created -Cmdlet $PSCmdlet)) {
            return
        }
        $job = ConvertTo-BitsJob $created.Records[0]
        $id = $job.JobId.ToString()
        $credentialed = Set-BitsjobCredential -JobId $id -Bound $PSBoundParameters -Cmdlet $PSCmdlet -Target $job
        if ($null -eq $credentialed) {
            # Nothing is left behind by a refused credential.
            $argv = @('cancel', $id)
            $null = Invoke-Bitsjob -Arguments $argv
            return
        }
        if ($Suspended) {
            $argv = @('get', $id)
            $shown = Invoke-Bitsjob -Arguments $argv -Target $job
            if (Write-BitsjobResult -Result $shown -Cmdlet $PSCmdlet) {
                ConvertTo-BitsJob $shown.Records[0]
            }
            return
        }
        $argv = @('resume', $id)
        $resumed = Invoke-Bitsjob -Arguments $argv -Target $job
        if (-not (Write-BitsjobResult -Result $resumed -Cmdlet $PSCmdlet)) {
            $argv = @('cancel', $id)
            $null = Invoke-Bitsjob -Arguments $argv
            return
        }
        $job = ConvertTo-BitsJob $resumed.Records[0]
        if ($Asynchronous) {
            $job
            return
        }
        $pending.Add($job)
    }
    end {
        # Every job piped in is already running: they transfer at the same time.
        if ($pending.Count -gt 0) {
            Wait-BitsTransferJob -Jobs $pending.ToArray() -Cmdlet $PSCmdlet -CancelOnStop
        }
    }
}

function Get-BitsTransfer {
    <#
    .SYNOPSIS
    Gets the BITS transfer jobs of the current user (or of every user, as root).
    #>
    [CmdletBinding(DefaultParameterSetName = 'ListJobsByName')]
    [OutputType('Microsoft.BackgroundIntelligentTransfer.Management.BitsJob')]
    param(
        [Parameter(ParameterSetName = 'ListJobsByName', Position = 0)]
        [Alias('n')]
        [string[]] $Name,

        [Parameter(ParameterSetName = 'ListJobsByName', Position = 1)]
        [Alias('all')]
        [switch] $AllUsers,

        [Parameter(ParameterSetName = 'ListJobsById', Mandatory, Position = 0, ValueFromPipelineByPropertyName)]
        [Alias('id')]
        [guid[]] $JobId
    )
    process {
        if ($PSCmdlet.ParameterSetName -eq 'ListJobsById') {
            $argv = @('get')
            $argv += @($JobId | ForEach-Object { $_.ToString() })
            $result = Invoke-Bitsjob -Arguments $argv -Target $JobId
            $null = Write-BitsjobResult -Result $result -Cmdlet $PSCmdlet
            foreach ($record in $result.Records) {
                ConvertTo-BitsJob $record
            }
            return
        }
        $argv = @('list')
        if ($AllUsers) {
            $argv += '--all-users'
        }
        $result = Invoke-Bitsjob -Arguments $argv -Target $Name
        if (-not (Write-BitsjobResult -Result $result -Cmdlet $PSCmdlet)) {
            return
        }
        $jobs = @($result.Records | ForEach-Object { ConvertTo-BitsJob $_ })
        if (-not $PSBoundParameters.ContainsKey('Name')) {
            $jobs
            return
        }
        # Names match as PowerShell wildcards, without regard to case.
        foreach ($pattern in $Name) {
            $wildcard = [System.Management.Automation.WildcardPattern]::new($pattern, [System.Management.Automation.WildcardOptions]::IgnoreCase)
            $found = @($jobs | Where-Object { $wildcard.IsMatch($_.DisplayName) })
            if ($found.Count -eq 0 -and -not [System.Management.Automation.WildcardPattern]::ContainsWildcardCharacters($pattern)) {
                $PSCmdlet.WriteError((New-BitsError -HResult '0x80200001' -Target $pattern -Message "No BITS job is named '$pattern'."))
            }
        }
        $jobs | Where-Object {
            $displayName = $_.DisplayName
            @($Name | Where-Object { [System.Management.Automation.WildcardPattern]::new($_, [System.Management.Automation.WildcardOptions]::IgnoreCase).IsMatch($displayName) }).Count -gt 0
        }
    }
}

function Add-BitsFile {
    <#
    .SYNOPSIS
    Adds files to BITS transfer jobs.
    #>
    [CmdletBinding(SupportsShouldProcess)]
    [OutputType('Microsoft.BackgroundIntelligentTransfer.Management.BitsJob')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)]
        [psobject[]] $BitsJob,

        [Parameter(Mandatory, Position = 1, ValueFromPipelineByPropertyName)]
        [string[]] $Source,

        [Parameter(Position = 2, ValueFromPipelineByPropertyName)]
        [string[]] $Destination
    )
    process {
        foreach ($job in $BitsJob) {
            try {
                $id = Get-BitsJobId $job
                $type = 'Download'
                if ($null -ne $job.PSObject.Properties['TransferType']) {
                    $type = [string]$job.TransferType
                }
                $pairs = Resolve-TransferPair -Source $Source -Destination $Destination -TransferType $type -Cmdlet $PSCmdlet
            }
            catch {
                $PSCmdlet.WriteError([System.Management.Automation.ErrorRecord]::new($_.Exception, '0x80070057',
                        [System.Management.Automation.ErrorCategory]::InvalidArgument, $job))
                continue
            }
            if (-not $PSCmdlet.ShouldProcess($id, 'Add files to BITS job')) {
                continue
            }
            $argv = @('add', $id, '--')
            $argv += @($pairs)
            $result = Invoke-Bitsjob -Arguments $argv -Target $job
            if (Write-BitsjobResult -Result $result -Cmdlet $PSCmdlet) {
                ConvertTo-BitsJob $result.Records[0]
            }
        }
    }
}

function Set-BitsTransfer {
    <#
    .SYNOPSIS
    Changes the settings of BITS transfer jobs.
    #>
    [CmdletBinding(SupportsShouldProcess)]
    [OutputType('Microsoft.BackgroundIntelligentTransfer.Management.BitsJob')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)]
        [Alias('b')]
        [psobject[]] $BitsJob,

        [Alias('dn')]
        [ValidateLength(0, 256)]
        [string] $DisplayName,

        [Alias('p')]
        [ValidateSet('Foreground', 'High', 'Normal', 'Low')]
        [string] $Priority,

        [Alias('d')]
        [ValidateLength(0, 1024)]
        [string] $Description,

        [switch] $Dynamic,

        [switch] $CustomHeadersWriteOnly,

        [Alias('hm')]
        [string] $HttpMethod,

        [Alias('pa')]
        [ValidateSet('Basic', 'Digest', 'Ntlm', 'Negotiate', 'Passport')]
        [string] $ProxyAuthentication,

        [int] $RetryInterval,

        [int] $RetryTimeout,

        [int] $MaxDownloadTime,

        [Microsoft.BackgroundIntelligentTransfer.Management.CostStates] $TransferPolicy,

        [Microsoft.BackgroundIntelligentTransfer.Management.ACLFlagValue] $ACLFlags,

        [Microsoft.BackgroundIntelligentTransfer.Management.SecurityFlagValue] $SecurityFlags,

        [Microsoft.BackgroundIntelligentTransfer.Management.AuthenticationTargetValue] $UseStoredCredential,

        [Alias('cred')]
        [pscredential] $Credential,

        [Alias('pc')]
        [pscredential] $ProxyCredential,

        [Alias('au')]
        [ValidateSet('Basic', 'Digest', 'Ntlm', 'Negotiate', 'Passport')]
        [string] $Authentication,

        [Alias('so')]
        [switch] $SetOwnerToCurrentUser,

        [Alias('pu')]
        [ValidateSet('SystemDefault', 'NoProxy', 'AutoDetect', 'Override')]
        [string] $ProxyUsage,

        [Alias('pl')]
        [uri[]] $ProxyList,

        [Alias('pb')]
        [string[]] $ProxyBypass,

        [string[]] $CustomHeaders,

        [Microsoft.BackgroundIntelligentTransfer.Management.NotifyFlagValue] $NotifyFlags,

        [string[]] $NotifyCmdLine,

        [Microsoft.BackgroundIntelligentTransfer.Management.CertStoreLocationValue] $CertStoreLocation,

        [ValidateSet('CA', 'MY', 'ROOT', 'SPC')]
        [string] $CertStoreName,

        [byte[]] $CertHash
    )
    process {
        try {
            $settings = ConvertTo-BitsjobSetting -Bound $PSBoundParameters
        }
        catch {
            $PSCmdlet.WriteError([System.Management.Automation.ErrorRecord]::new($_.Exception, '0x80070057',
                    [System.Management.Automation.ErrorCategory]::InvalidArgument, $BitsJob))
            return
        }
        foreach ($job in $BitsJob) {
            try {
                $id = Get-BitsJobId $job
            }
            catch {
                $PSCmdlet.WriteError([System.Management.Automation.ErrorRecord]::new($_.Exception, '0x80070057',
                        [System.Management.Automation.ErrorCategory]::InvalidArgument, $job))
                continue
            }
            if (-not $PSCmdlet.ShouldProcess($id, 'Change BITS job')) {
                continue
            }
            $argv = @('set', $id)
            if ($SetOwnerToCurrentUser) {
                $argv += '--take-ownership'
            }
            if ($PSBoundParameters.ContainsKey('DisplayName')) {
                $argv += "--name=$DisplayName"
            }
            $argv += @($settings)
            $result = Invoke-Bitsjob -Arguments $argv -Target $job
            if (-not (Write-BitsjobResult -Result $result -Cmdlet $PSCmdlet)) {
                continue
            }
            $changed = $result.Records[0]
            $credentialed = Set-BitsjobCredential -JobId $id -Bound $PSBoundParameters -Cmdlet $PSCmdlet -Target $job
            if ($null -eq $credentialed) {
                continue
            }
            if ($credentialed -isnot [bool]) {
                $changed = $credentialed
            }
            ConvertTo-BitsJob $changed
        }
    }
}

function Suspend-BitsTransfer {
    <#
    .SYNOPSIS
    Suspends BITS transfer jobs.
    #>
    [CmdletBinding(SupportsShouldProcess)]
    [OutputType('Microsoft.BackgroundIntelligentTransfer.Management.BitsJob')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)]
        [Alias('b')]
        [psobject[]] $BitsJob
    )
    process {
        foreach ($job in $BitsJob) {
            $id = Get-BitsJobId $job
            if (-not $PSCmdlet.ShouldProcess($id, 'Suspend BITS job')) {
                continue
            }
            $argv = @('suspend', $id)
            $result = Invoke-Bitsjob -Arguments $argv -Target $job
            if (Write-BitsjobResult -Result $result -Cmdlet $PSCmdlet) {
                ConvertTo-BitsJob $result.Records[0]
            }
        }
    }
}

function Resume-BitsTransfer {
    <#
    .SYNOPSIS
    Resumes BITS transfer jobs and, unless -Asynchronous, waits for them and completes them.
    #>
    [CmdletBinding(SupportsShouldProcess)]
    [OutputType('Microsoft.BackgroundIntelligentTransfer.Management.BitsJob')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)]
        [Alias('b')]
        [psobject[]] $BitsJob,

        [Alias('as')]
        [switch] $Asynchronous
    )
    begin {
        $pending = [System.Collections.Generic.List[object]]::new()
    }
    process {
        foreach ($job in $BitsJob) {
            $id = Get-BitsJobId $job
            if (-not $PSCmdlet.ShouldProcess($id, 'Resume BITS job')) {
                continue
            }
            $argv = @('resume', $id)
            $result = Invoke-Bitsjob -Arguments $argv -Target $job
            if (-not (Write-BitsjobResult -Result $result -Cmdlet $PSCmdlet)) {
                continue
            }
            $resumed = ConvertTo-BitsJob $result.Records[0]
            if ($Asynchronous) {
                $resumed
            }
            else {
                $pending.Add($resumed)
            }
        }
    }
    end {
        # Ctrl+C stops waiting and leaves the jobs as they are.
        if ($pending.Count -gt 0) {
            Wait-BitsTransferJob -Jobs $pending.ToArray() -Cmdlet $PSCmdlet
        }
    }
}

function Complete-BitsTransfer {
    <#
    .SYNOPSIS
    Completes BITS transfer jobs: their files appear under their final names.
    #>
    [CmdletBinding(SupportsShouldProcess)]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)]
        [Alias('b')]
        [psobject[]] $BitsJob
    )
    process {
        foreach ($job in $BitsJob) {
            $id = Get-BitsJobId $job
            if (-not $PSCmdlet.ShouldProcess($id, 'Complete BITS job')) {
                continue
            }
            $argv = @('complete', $id)
            $result = Invoke-Bitsjob -Arguments $argv -Target $job
            $null = Write-BitsjobResult -Result $result -Cmdlet $PSCmdlet
        }
    }
}

function Remove-BitsTransfer {
    <#
    .SYNOPSIS
    Cancels BITS transfer jobs and deletes their temporary files.
    #>
    [CmdletBinding(SupportsShouldProcess)]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline)]
        [Alias('b')]
        [psobject[]] $BitsJob
    )
    process {
        foreach ($job in $BitsJob) {
            $id = Get-BitsJobId $job
            if (-not $PSCmdlet.ShouldProcess($id, 'Cancel BITS job')) {
                continue
            }
            $argv = @('cancel', $id)
            $result = Invoke-Bitsjob -Arguments $argv -Target $job
            $null = Write-BitsjobResult -Result $result -Cmdlet $PSCmdlet
        }
    }
}

Export-ModuleMember -Function @(
    'Add-BitsFile'
    'Complete-BitsTransfer'
    'Get-BitsTransfer'
    'Remove-BitsTransfer'
    'Resume-BitsTransfer'
    'Set-BitsTransfer'
    'Start-BitsTransfer'
    'Suspend-BitsTransfer'
)
