#Requires -Version 5.1
[CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
param(
    # The result log (CSV) of an earlier, interrupted run of this same script: the
    # steps it records as applied or unchanged are not run again; every other step is.
    [string] $ResumeFrom,
    # Attempts per step when Exchange reports a transient failure (server busy,
    # throttling, a time-out); a permanent failure is never retried.
    [ValidateRange(1, 20)] [int] $MaxAttempts = 6,
    # The first back-off delay in seconds; it doubles on every retry, up to 300.
    [ValidateRange(0, 300)] [int] $RetryDelaySeconds = 5
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

if (-not (Get-Command -Name 'Set-CASMailbox' -ErrorAction SilentlyContinue)) {
    Write-Error 'No Exchange session: run Connect-ExchangeOnline (or open the Exchange Management Shell) first, then run this script again.' -ErrorAction Continue
    exit 2
}

$script:Caller = $PSCmdlet
$script:Total = {total}
$script:PlanId = '{plan}'
$script:Counts = @{ applied = 0; unchanged = 0; skipped = 0; failed = 0; resumed = 0 }
$script:PolicyChanged = @{}
$script:LogPath = Join-Path -Path $PSScriptRoot -ChildPath ('{log}-{0:yyyyMMdd-HHmmss}.csv' -f (Get-Date))
$script:TransientErrors = {transient}
$script:PermanentErrors = {permanent}

# Steps an earlier run of this script already did, from its result log.
$script:Done = @{}
if ($ResumeFrom) {
    foreach ($row in @(Import-Csv -LiteralPath $ResumeFrom)) {
        if ($row.Plan -ne $script:PlanId) {
            Write-Error ('{0} is the log of another script (plan {1}; this script is plan {2}): resume only from a log this script wrote.' -f $ResumeFrom, $row.Plan, $script:PlanId) -ErrorAction Continue
            exit 2
        }
        if ($row.Result -eq 'applied' -or $row.Result -eq 'unchanged') { $script:Done[[int]$row.Step] = $row.Result }
    }
}

# 'transient' or 'permanent': permanent patterns first, and anything unknown is permanent.
function Get-FailureKind {
    param([Parameter(Mandatory)] [System.Management.Automation.ErrorRecord] $ErrorRecord)
    $text = '{0} {1} {2}' -f $ErrorRecord.Exception.GetType().FullName, $ErrorRecord.FullyQualifiedErrorId, $ErrorRecord.Exception.Message
    foreach ($pattern in $script:PermanentErrors) {
        if ($text.IndexOf($pattern, [System.StringComparison]::OrdinalIgnoreCase) -ge 0) { return 'permanent' }
    }
    foreach ($pattern in $script:TransientErrors) {
        if ($text.IndexOf($pattern, [System.StringComparison]::OrdinalIgnoreCase) -ge 0) { return 'transient' }
    }
    'permanent'
}

# True when the object's Guid, ExternalDirectoryObjectId, address, UPN, Identity or
# Name is exactly the identifier asked for.
function Test-Identity {
    param([Parameter(Mandatory)] $InputObject, [Parameter(Mandatory)] [string] $Identity)
    foreach ($name in 'Guid', 'ExternalDirectoryObjectId', 'PrimarySmtpAddress', 'UserPrincipalName', 'WindowsEmailAddress', 'Identity', 'Name') {
        $property = $InputObject.PSObject.Properties[$name]
        if ($null -ne $property -and $null -ne $property.Value -and [string]$property.Value -eq $Identity) { return $true }
    }
    $false
}

# The one user or mailbox with exactly this identifier. Get-User and Get-CASMailbox
# given a missing or $null identity may return every object, so the answer is
# filtered, and anything but exactly one match is an error.
function Get-Exact {
    param(
        [Parameter(Mandatory)] [ValidateSet('User', 'CASMailbox')] [string] $Kind,
        [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string] $Identity
    )
    $objects = switch ($Kind) {
        'User' { Get-User -Identity $Identity -ErrorAction Stop }
        'CASMailbox' { Get-CASMailbox -Identity $Identity -ErrorAction Stop }
    }
    $found = @($objects | Where-Object { Test-Identity -InputObject $_ -Identity $Identity })
    if ($found.Count -ne 1) { throw ('{0} {1}: {2} objects have exactly this identifier; expected one' -f $Kind, $Identity, $found.Count) }
    $found[0]
}

# The policy named exactly so, or $null. Every policy is listed and matched by
# Name, because Get-AuthenticationPolicy -Identity with a missing name may
# return all of them.
function Get-PolicyByName {
    param([Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string] $Name)
    $found = @(Get-AuthenticationPolicy -ErrorAction Stop | Where-Object { $_.Name -eq $Name })
    if ($found.Count -gt 1) { throw ('{0} policies are named {1}' -f $found.Count, $Name) }
    if ($found.Count -eq 1) { $found[0] } else { $null }
}

# True while a user or the org default still uses the policy.
function Test-PolicyInUse {
    param([Parameter(Mandatory)] $Policy)
    $filter = "AuthenticationPolicy -eq '{0}'" -f ([string]$Policy.DistinguishedName -replace "'", "''")
    [bool](Get-User -ResultSize 1 -Filter $filter -ErrorAction Stop) -or ([string](Get-OrganizationConfig -ErrorAction Stop).DefaultAuthenticationPolicy -eq $Policy.Name)
}

# The switches of a new policy variant: every AllowBasicAuth*, BlockLegacyAuth* and
# BlockModernAuth* switch New-AuthenticationPolicy takes on this server (the
# BlockModernAuth* ones exist only from Exchange Server 2019 CU13), copied from the
# live source policy (or, with -NoPolicy, with the meaning of "no policy": online
# AllowBasicAuth* True, on premises Block* False), then the changed ones. A switch
# the source does not show is an error: no value is ever asserted by guess.
function Get-VariantSwitches {
    param([string] $Source, [switch] $NoPolicy, [Parameter(Mandatory)] [hashtable] $Set)
    $accepted = @((Get-Command -Name 'New-AuthenticationPolicy' -ErrorAction Stop).Parameters.Keys | Where-Object { $_ -match '^(AllowBasicAuth|BlockLegacyAuth|BlockModernAuth)' })
    foreach ($name in $Set.Keys) {
        if ($accepted -notcontains $name) { throw ('New-AuthenticationPolicy on this server has no -{0} switch' -f $name) }
    }
    $switches = @{}
    if ($NoPolicy) {
        foreach ($name in $accepted) { $switches[$name] = $name -like 'AllowBasicAuth*' }
    } else {
        $policy = Get-PolicyByName -Name $Source
        if ($null -eq $policy) { throw ('the source policy {0} no longer exists; export the tenant again and re-run exoauth' -f $Source) }
        foreach ($name in $accepted) {
            $property = $policy.PSObject.Properties[$name]
            if ($null -eq $property -or ($null -eq $property.Value -and $name -like 'AllowBasicAuth*')) {
                throw ('the source policy {0} shows no value for {1}: set it, or create the variant by hand' -f $Source, $name)
            }
            # On premises a blank Block* switch means "not blocked", as False does.
            $switches[$name] = ($null -ne $property.Value) -and [System.Convert]::ToBoolean($property.Value)
        }
    }
    foreach ($name in $Set.Keys) { $switches[$name] = $Set[$name] }
    $switches
}

# One change: check it, ask (ShouldProcess: -WhatIf and -Confirm), apply it, retry
# transient failures with exponential back-off (checking again first, in case the
# failed attempt did land), log the result, and carry on.
function Invoke-Change {
    param(
        [Parameter(Mandatory)] [int] $Step,
        [Parameter(Mandatory)] [string] $Cmdlet,
        [Parameter(Mandatory)] [string] $Target,
        [Parameter(Mandatory)] [string] $Change,
        [Parameter(Mandatory)] [scriptblock] $Test,
        [Parameter(Mandatory)] [scriptblock] $Apply,
        [string] $PolicyChanged
    )
    Write-Progress -Activity 'exoauth {title}' -Status ('{0}/{1} {2} {3}' -f $Step, $script:Total, $Cmdlet, $Target) -PercentComplete (100 * $Step / [Math]::Max(1, $script:Total))
    $result = 'unchanged'
    $message = ''
    $attempt = 0
    if ($script:Done.ContainsKey($Step)) {
        $result = $script:Done[$Step]
        $message = 'done by an earlier run (resumed)'
        $script:Counts['resumed'] += 1
        if ($PolicyChanged -and $result -eq 'applied') { $script:PolicyChanged[$PolicyChanged] = $true }
    } else {
        $approved = $null
        while ($true) {
            $attempt += 1
            try {
                if (& $Test) {
                    if ($approved) { $result = 'applied' } # an earlier attempt did land
                    break
                }
                if ($null -eq $approved) { $approved = $script:Caller.ShouldProcess($Target, ('{0} {1}' -f $Cmdlet, $Change)) }
                if (-not $approved) {
                    $result = 'skipped'
                    break
                }
                $null = & $Apply
                $result = 'applied'
                break
            } catch {
                $message = $_.Exception.Message
                if ((Get-FailureKind -ErrorRecord $_) -eq 'permanent' -or $attempt -ge $MaxAttempts) {
                    $result = 'failed'
                    Write-Warning ('{0} {1} failed after {2} attempt(s): {3}' -f $Cmdlet, $Target, $attempt, $message)
                    break
                }
                $delay = [Math]::Min(300, $RetryDelaySeconds * [Math]::Pow(2, $attempt - 1))
                Write-Warning ('{0} {1}: transient failure ({2}); attempt {3} of {4} in {5} s' -f $Cmdlet, $Target, $message, ($attempt + 1), $MaxAttempts, $delay)
                Start-Sleep -Seconds $delay
            }
        }
        if ($result -ne 'failed') { $message = '' }
        if ($PolicyChanged -and ($result -eq 'applied' -or $WhatIfPreference)) { $script:PolicyChanged[$PolicyChanged] = $true }
        $script:Counts[$result] += 1
    }
    # One row per step, appended at once: an interrupted run leaves a log to resume from.
    [pscustomobject]@{ Plan = $script:PlanId; Step = $Step; Time = (Get-Date).ToString('o'); Cmdlet = $Cmdlet; Target = $Target; Change = $Change; Result = $result; Attempts = $attempt; Message = $message } |
        Export-Csv -LiteralPath $script:LogPath -Append -NoTypeInformation -Encoding UTF8
}
